#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    from django.core.management import execute_from_command_line

    from arena.embedded import start_if_embedded

    # Commands publish live events and use the cache: the embedded Redis must be up for them.
    start_if_embedded()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
