from . import roles as role_checks


def roles(request):
    user = request.user
    return {
        "can_drive": role_checks.can_drive(user),
        "can_audit": role_checks.can_audit(user),
        "is_console_admin": role_checks.is_admin(user),
    }
