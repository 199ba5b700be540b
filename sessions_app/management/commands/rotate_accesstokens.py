from django.core.management.base import BaseCommand
from django.db import transaction

from sessions_app import crypto
from sessions_app.models import Account


class Command(BaseCommand):
    help = "Re-encrypt every stored accesstoken with the newest key of TCADH_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        with transaction.atomic():
            accounts = list(Account.objects.select_for_update())
            for account in accounts:
                account.accesstoken_encrypted = crypto.rotate(account.accesstoken_encrypted)
                account.save(update_fields=["accesstoken_encrypted"])
        self.stdout.write(f"Re-encrypted {len(accounts)} accesstoken(s) with the newest key.")
