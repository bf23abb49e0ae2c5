from django import template

register = template.Library()


@register.filter
def percent(value, digits: int = 0):
    """0.873 -> '87%'; empty for missing values."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def seconds(value):
    if value is None:
        return "—"
    value = float(value)
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(round(value)), 60)
    return f"{minutes} min {rest:02d} s"


@register.filter
def filesize_mb(value):
    return f"{int(value) / (1024 * 1024):.1f} MB"
