"""``plimsoll db lint``: rules over migrations and schemas, grouped into libraries."""
