from django.urls import path

from . import views

app_name = "sharing"

urlpatterns = [
    path("analyses/<uuid:analysis_id>/share-links/", views.share_links, name="share_links"),
    path("analyses/<uuid:analysis_id>/share-links/<int:link_id>/revoke/", views.share_link_revoke,
         name="share_link_revoke"),
    path("shared/<str:token>/", views.shared_analysis, name="shared"),
    path("shared/<str:token>/video/", views.shared_file, {"kind": "video"}, name="shared_video"),
    path("shared/<str:token>/frames/<int:index>/thumbnail.jpg", views.shared_file, {"kind": "thumbnail"},
         name="shared_thumbnail"),
    path("shared/<str:token>/frames/<int:index>/heatmap.jpg", views.shared_file, {"kind": "heatmap"},
         name="shared_heatmap"),
    path("shared/<str:token>/report.pdf", views.shared_report, {"extension": "pdf"}, name="shared_report_pdf"),
    path("shared/<str:token>/report.json", views.shared_report, {"extension": "json"}, name="shared_report_json"),
]
