"""manage.py train_model: a thin wrapper around ``python -m detection.engine.train``."""

import argparse
import logging
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from detection.engine import train


class Command(BaseCommand):
    help = train.DESCRIPTION + " The same options as `python -m detection.engine.train` (no Django needed there)."

    def add_arguments(self, parser):
        train.add_arguments(parser)
        parser.set_defaults(
            out_dir=str(Path(settings.VAR_DIR) / "train" / "run"),
            cache_dir=str(Path(settings.VAR_DIR) / "facecache"),
        )

    def handle(self, *args, **options):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
        if options["verbosity"] == 0:
            options["progress"] = False
        namespace = argparse.Namespace(**options)
        try:
            result = train.run_from_args(namespace)
        except (ValueError, FileNotFoundError) as error:
            raise CommandError(str(error)) from None
        out = Path(result["out_dir"])
        self.stdout.write(self.style.SUCCESS(
            f"trained: best validation AUC {result['best_auc']:.4f}; {out / 'best.pt'} (curves: {out / 'curves.png'})"
        ))
        if options.get("export"):
            self.stdout.write(f"exported {options['export']} (sha256 {result['export_sha256']}); register it with "
                              f"`manage.py install_model {options['export']}`")
