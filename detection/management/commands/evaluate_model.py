"""manage.py evaluate_model: a thin wrapper around ``python -m detection.engine.evaluate``.

By default the figures are stored in the checkpoint (re-saved atomically, so its sha256
changes) and, when the file lies in the models folder, the detector is registered again so
the detector page and the API show them.
"""

import argparse
import logging
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from detection import registry
from detection.engine import evaluate
from detection.engine.errors import CheckpointError


class Command(BaseCommand):
    help = evaluate.DESCRIPTION + " Stores the figures in the checkpoint and updates the registered detector."

    def add_arguments(self, parser):
        evaluate.add_arguments(parser)
        parser.add_argument("--no-update", action="store_true",
                            help="only report: leave the checkpoint and the database unchanged")

    def handle(self, *args, **options):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
        path = Path(options["checkpoint"]).expanduser()
        if not path.is_file():
            raise CommandError(f"No checkpoint file at {path}.")
        namespace = argparse.Namespace(**options)
        update = not options["no_update"]
        try:
            result = evaluate.run_from_args(namespace, update_checkpoint=update)
        except (ValueError, FileNotFoundError, CheckpointError) as error:
            raise CommandError(str(error)) from None
        auc = result["roc_auc"]
        self.stdout.write(
            f"{result['samples']} videos: ROC AUC {'n/a' if auc is None else f'{auc:.4f}'}, accuracy "
            f"{result['accuracy']:.4f}, balanced accuracy {result['balanced_accuracy']:.4f}, log loss "
            f"{result['log_loss']:.4f}, confusion {result['confusion']}"
        )
        for source, figures in result["by_source"].items():
            source_auc = figures["roc_auc"]
            self.stdout.write(f"  {source}: {figures['samples']} videos, AUC "
                              f"{'n/a' if source_auc is None else f'{source_auc:.3f}'}, accuracy {figures['accuracy']:.3f}")
        if options.get("out"):
            self.stdout.write(f"report: {Path(options['out']) / 'report.json'}, {Path(options['out']) / 'roc.png'}")
        if not update:
            return
        models_dir = settings.DFD_MODELS_DIR.resolve()
        if models_dir in path.resolve().parents:
            detector = registry.detector_refresh(path=path, old_sha256=result["checkpoint_sha256_before"])
            self.stdout.write(self.style.SUCCESS(
                f"stored the figures in {path.name} (sha256 {detector.sha256}) and updated detector {detector.name}"
            ))
        else:
            self.stdout.write(self.style.SUCCESS(
                f"stored the figures in {path} (sha256 {result['checkpoint_sha256']}); it is not in the models "
                f"folder, so no detector was updated"
            ))
