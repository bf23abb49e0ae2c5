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


@register.filter
def public_text(value):
    """Text from a checkpoint, without the paths of the machine that wrote it."""
    from detection.cards import public_text as strip_paths

    return strip_paths(value)


@register.filter
def card_html(value):
    """A model card's Markdown as sanitised HTML."""
    from django.utils.safestring import mark_safe

    from detection.cards import card_html as render

    return mark_safe(render(value))  # nh3 leaves only safe tags and attributes


@register.filter
def score(value):
    """The one number people see for a verdict: the probability of manipulation as 0-100."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.0f}"


@register.simple_tag
def verdict_reading(analysis):
    """{% verdict_reading analysis as reading %}: the verdict's title and sentence (detection.readings)."""
    from detection.readings import verdict_reading as reading

    return reading(analysis)


@register.filter
def source_host(value):
    """A link shown short: its host."""
    from urllib.parse import urlsplit

    return urlsplit(value or "").hostname or ""
