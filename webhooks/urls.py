from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoint_list, name="endpoint_list"),
    path("<int:endpoint_id>/", views.endpoint_detail, name="endpoint_detail"),
    path("<int:endpoint_id>/test/", views.endpoint_send_test, name="endpoint_send_test"),
    path("<int:endpoint_id>/rotate/", views.endpoint_rotate, name="endpoint_rotate"),
    path("<int:endpoint_id>/toggle/", views.endpoint_toggle, name="endpoint_toggle"),
    path("<int:endpoint_id>/delete/", views.endpoint_delete, name="endpoint_delete"),
]
