"""The one place the console builds a cloud client for an account."""

from tcadh.client import TcadhClient

from .models import Account


def client_for(account: Account) -> TcadhClient:
    return TcadhClient(account.base_url, account.appkey, account.accesstoken)
