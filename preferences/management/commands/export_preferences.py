"""``manage.py export_preferences --space SLUG --format FMT --out PATH [filters] [--json]``:
write a space's kept preference pairs (or its battles) into the new folder PATH, with
``manifest.json`` and a dataset card ``README.md`` (``preferences.exporting``).

Formats: trl, trl-chat, kto, parquet, hf, battles (``preferences.formats``). Filters: --since
and --until (a date, or an ISO date and time, on when the match settled; --until DATE includes
that day), --min-margin and --min-agreement (0 to 1, inclusive; pair formats), --agent ID
(repeatable: pairs with that agent on either side), --include-system-prompt (trl-chat and
battles). Bad input is refused before anything is written, and so is an export that no row
matches (``datasets`` cannot load a file without rows).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from preferences.errors import PreferenceError
from preferences.export_spec import FORMATS, export_spec
from preferences.exporting import export_to_folder
from spaces.errors import SpaceError
from spaces.selectors import space_get


class Command(BaseCommand):
    help = "Export a space's preference pairs (or battles) with a manifest and a dataset card."

    def add_arguments(self, parser):
        parser.add_argument("--space", required=True, help="the space's slug")
        parser.add_argument("--format", required=True, dest="fmt", help=", ".join(FORMATS))
        parser.add_argument("--out", required=True, help="a new (or empty) folder to write")
        parser.add_argument("--since", help="matches settled on or after (YYYY-MM-DD or ISO)")
        parser.add_argument("--until", help="matches settled before (a date: through that day)")
        parser.add_argument("--min-margin", help="pairs with at least this margin (0 to 1)")
        parser.add_argument("--min-agreement", help="pairs with at least this agreement (0 to 1)")
        parser.add_argument("--agent", action="append", default=[], help="an agent id (repeatable)")
        parser.add_argument("--include-system-prompt", action="store_true")
        parser.add_argument("--json", action="store_true", help="print the manifest as JSON")

    def handle(self, *args, **options):
        try:
            space = space_get(slug=options["space"])
            spec = export_spec(
                space=space,
                fmt=options["fmt"],
                since=options["since"],
                until=options["until"],
                min_margin=options["min_margin"],
                min_agreement=options["min_agreement"],
                agents=options["agent"],
                include_system_prompt=options["include_system_prompt"],
            )
            manifest = export_to_folder(spec, Path(options["out"]))
        except (SpaceError, PreferenceError) as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(manifest, indent=2, ensure_ascii=False))
        else:
            counted = manifest.get("pairs", manifest.get("battles"))
            self.stdout.write(
                f"wrote {manifest['rows']} rows ({counted} "
                f"{'pairs' if 'pairs' in manifest else 'battles'}) to {options['out']}; "
                f"merkle root {manifest['merkle_root']}"
            )
