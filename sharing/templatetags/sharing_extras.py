from django import template

register = template.Library()


@register.simple_tag
def share_link_form():
    """{% share_link_form as form %}: an empty form for making a share link, for the result page
    (which belongs to detection, and so does not build sharing's forms in its view)."""
    from sharing.forms import ShareLinkForm

    return ShareLinkForm()
