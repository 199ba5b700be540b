"""Who may do what. Checked on the server for every view, form post and WebSocket message.

Operators create, drive and close sessions; auditors see everything read-only; admins (staff)
manage accounts, projects, assets and users and may also operate.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

OPERATOR = "operator"
AUDITOR = "auditor"


def _in_group(user, name: str) -> bool:
    return user.groups.filter(name=name).exists()


def is_admin(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.is_superuser or user.is_staff))


def can_view(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    return is_admin(user) or _in_group(user, OPERATOR) or _in_group(user, AUDITOR)


def can_drive(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    return is_admin(user) or _in_group(user, OPERATOR)


def can_audit(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    return is_admin(user) or _in_group(user, AUDITOR)


def role_name(user: AbstractBaseUser | AnonymousUser) -> str:
    if is_admin(user):
        return "admin"
    if can_drive(user):
        return "operator"
    if can_audit(user):
        return "auditor"
    return "none"
