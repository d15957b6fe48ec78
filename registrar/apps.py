from django.apps import AppConfig


class RegistrarConfig(AppConfig):
    name = "registrar"
    verbose_name = "Registrar"

    def ready(self) -> None:
        # A registration's timeline: its audit rows and notes, processes, approvals.
        from backoffice import timeline
        from registrar import history

        timeline.register_common(["registrar.registration"])
        timeline.register("registrar.registration", history.process_entries)
        timeline.register("registrar.registration", history.approval_entries)
        timeline.register("registrar.registration", history.notice_entries)
