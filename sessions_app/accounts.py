"""Services for accounts and their catalogue of projects and assets."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.crypto import get_random_string

from .models import Account, Asset, Project


@transaction.atomic
def account_register(*, name: str, base_url: str, appkey: str, accesstoken: str, uin: str = "",
                     projects: list[str] = (), assets: list[str] = (),
                     concurrency_limit: int | None = None) -> Account:
    """Create or refresh an account and its projects and assets (idempotent)."""
    account = Account.objects.filter(appkey=appkey).first() or Account(appkey=appkey)
    account.name = name
    account.base_url = base_url
    account.uin = uin
    account.concurrency_limit = concurrency_limit
    account.set_accesstoken(accesstoken)
    account.save()
    for index, project_id in enumerate(projects, start=1):
        Project.objects.get_or_create(account=account, project_id=project_id,
                                      defaults={"name": f"Project {index} ({project_id[:6]})"})
    for index, asset_key in enumerate(assets, start=1):
        Asset.objects.get_or_create(account=account, asset_key=asset_key,
                                    defaults={"name": f"Avatar {index} ({asset_key[:6]})"})
    return account


def admin_ensure(*, username: str = "admin") -> str | None:
    """Create the first admin when there is none; return its generated password, else None."""
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return None
    password = get_random_string(16)
    User.objects.create_superuser(username=username, email="", password=password)
    return password
