from django.urls import path

from . import views

app_name = "detection"

urlpatterns = [
    path("", views.analysis_list, name="analysis_list"),
    path("new/", views.analysis_new, name="analysis_new"),
    path("batches/", views.batch_list, name="batch_list"),
    path("batches/<uuid:batch_id>/", views.batch_detail, name="batch_detail"),
    path("batches/<uuid:batch_id>/delete/", views.batch_delete, name="batch_delete"),
    path("batches/<uuid:batch_id>/export.csv", views.batch_export, {"kind": "csv"}, name="batch_export_csv"),
    path("batches/<uuid:batch_id>/export.json", views.batch_export, {"kind": "json"}, name="batch_export_json"),
    path("<uuid:analysis_id>/", views.analysis_detail, name="analysis_detail"),
    path("<uuid:analysis_id>/status/", views.analysis_status, name="analysis_status"),
    path("<uuid:analysis_id>/delete/", views.analysis_delete, name="analysis_delete"),
    path("<uuid:analysis_id>/retry/", views.analysis_retry, name="analysis_retry"),
    path("<uuid:analysis_id>/cancel/", views.analysis_cancel, name="analysis_cancel"),
    path("<uuid:analysis_id>/video/", views.analysis_file, {"kind": "video"}, name="analysis_video"),
    path("<uuid:analysis_id>/poster.jpg", views.analysis_file, {"kind": "poster"}, name="analysis_poster"),
    path("<uuid:analysis_id>/frames/<int:index>/thumbnail.jpg", views.analysis_file, {"kind": "thumbnail"},
         name="frame_thumbnail"),
    path("<uuid:analysis_id>/frames/<int:index>/heatmap.jpg", views.analysis_file, {"kind": "heatmap"},
         name="frame_heatmap"),
    path("<uuid:analysis_id>/report.pdf", views.analysis_report_pdf, name="analysis_report_pdf"),
    path("<uuid:analysis_id>/report.json", views.analysis_report_json, name="analysis_report_json"),
]
