import sys
import time

from django.core.management.base import BaseCommand, CommandError

from detection import registry


class Command(BaseCommand):
    help = (
        "Install a detector checkpoint from a file or an http(s) URL into the models folder, verify it "
        "(sha256, loads once) and register it. The seed project's bare checkpoint.pt and our own "
        "self-describing checkpoints are both accepted. Interrupted downloads resume when run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", nargs="?", help="path or http(s) URL of a .pt/.pth checkpoint")
        parser.add_argument(
            "--sha256", default="", help="expected sha256 of the file; refused when it differs"
        )
        parser.add_argument("--name", default="", help="name shown to people (default: the file name)")
        parser.add_argument("--default", action="store_true", help="make it the detector new analyses use")
        parser.add_argument(
            "--scan", action="store_true", help="register checkpoints already in the models folder"
        )

    def handle(self, *args, source, sha256, name, default, scan, **options):
        if not source and not scan:
            raise CommandError("Give a checkpoint path or URL, or --scan. See --help.")
        if scan:
            registered, updated, problems = registry.detectors_scan()
            for detector in registered:
                self.stdout.write(self.style.SUCCESS(f"registered {detector.name} ({detector.file})"))
            for detector in updated:
                self.stdout.write(self.style.WARNING(
                    f"updated {detector.name}: its file {detector.file} changed; registered again with sha256 "
                    f"{detector.sha256}"))
            for file_name, problem in problems.items():
                self.stderr.write(self.style.WARNING(f"skipped {file_name}: {problem}"))
            if not registered and not updated and not problems:
                self.stdout.write("nothing new in the models folder")
            self._warn_about_unusable_detectors()
        if source:
            try:
                detector = registry.detector_install(
                    source=source,
                    sha256=sha256,
                    name=name,
                    make_default=default,
                    on_progress=self._progress(),
                )
            except registry.DetectorInstallError as error:
                raise CommandError(str(error)) from None
            default_note = " (default)" if detector.is_default else ""
            self.stdout.write(
                self.style.SUCCESS(
                    f"installed {detector.name}{default_note}: {detector.variant} {detector.backbone}, "
                    f"models/{detector.file}, sha256 {detector.sha256}"
                )
            )

    def _warn_about_unusable_detectors(self) -> None:
        """Registered detectors whose checkpoint file is missing or changed cannot run: say so
        where whoever starts the platform (make run) sees it."""
        for detector, status in registry.detector_problems().items():
            default_note = ""
            if detector.is_default:
                default_note = " (the default: new analyses are refused until this is fixed)"
            self.stderr.write(self.style.WARNING(
                f"WARNING: detector {detector.name}{default_note} is unavailable. {status.problem}"
            ))

    def _progress(self):
        last = [0.0]

        def report(done: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last[0] < 0.5 and (total is None or done < total):
                return
            last[0] = now
            if total:
                sys.stderr.write(
                    f"\rdownloading {done / 1e6:8.1f} / {total / 1e6:.1f} MB ({100 * done / total:5.1f}%)"
                )
            else:
                sys.stderr.write(f"\rdownloading {done / 1e6:8.1f} MB")
            if total and done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

        return report
