from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self):
        # Every process that can end an analysis (web, worker, reaper) tells the owner's endpoints.
        from detection import lifecycle

        from . import services

        if services.analysis_finished_notify not in lifecycle.finished_receivers:
            lifecycle.finished_receivers.append(services.analysis_finished_notify)
