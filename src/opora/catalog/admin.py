from django.contrib import admin

from .models import Category, Service


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "parent", "position", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name", "name_en"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "owner_team", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name", "name_en"]
