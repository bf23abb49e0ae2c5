from django.core.management.base import BaseCommand

from detection import services


class Command(BaseCommand):
    help = (
        "Requeue analyses whose worker stopped sending heartbeats (once), fail them after that, and resend "
        "queued analyses whose message was lost. Also runs every minute from Celery beat."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale-after",
            type=int,
            default=None,
            metavar="SECONDS",
            help="heartbeat age that counts as lost (default: DFD_HEARTBEAT_STALE_SECONDS)",
        )
        parser.add_argument(
            "--queued-after",
            type=int,
            default=900,
            metavar="SECONDS",
            help="resend queued analyses last sent this long ago (default: 900)",
        )

    def handle(self, *args, stale_after, queued_after, **options):
        report = services.analyses_reap_stale(
            stale_after_seconds=stale_after, queued_after_seconds=queued_after
        )
        for analysis_id in report.requeued:
            self.stdout.write(f"requeued {analysis_id}")
        for analysis_id in report.failed:
            self.stdout.write(f"failed {analysis_id}")
        self.stdout.write(self.style.SUCCESS(f"{len(report.requeued)} requeued, {len(report.failed)} failed"))
