"""Admin: the ledger is visible to staff and editable by no one, superusers included.

Corrections are new transfers made through ``ledger.services``, never edits of history.
"""

from __future__ import annotations

from django.contrib import admin

from ledger import services
from ledger.models import Account, Posting, Settlement, Transfer


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        return {}  # no bulk delete either


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ["account", "amount"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "owner", "ref", "shard", "balance", "account_total", "created_at"]
    list_filter = ["kind"]
    search_fields = ["owner__username", "ref"]
    list_select_related = ["owner"]
    readonly_fields = ["account_total"]

    @admin.display(description="account total")
    def account_total(self, obj: Account) -> int:
        """A sharded system account (platform revenue, grants, chain deposits) is several rows;
        its balance is their sum. Other accounts are one row."""
        return services.balance(obj) if obj.is_sharded else obj.balance


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "kind", "amount", "debit", "credit", "key", "memo"]
    list_filter = ["kind"]
    search_fields = ["key", "memo"]
    list_select_related = ["debit", "credit", "debit__owner", "credit__owner"]
    inlines = [PostingInline]
    date_hierarchy = "created_at"


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    list_display = ["id", "transfer", "account", "amount"]
    list_select_related = ["transfer__debit__owner", "transfer__credit__owner", "account__owner"]
    search_fields = ["transfer__key"]


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "key", "escrow", "total"]
    list_select_related = ["escrow"]
    search_fields = ["key", "escrow__ref"]


# --- chain records: read-only too; they change only through ledger.chain services -----------
from ledger.models import ChainDeposit, Wallet, Withdrawal  # noqa: E402


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ["address", "user", "linked_at"]
    search_fields = ["address", "user__username"]


@admin.register(ChainDeposit)
class ChainDepositAdmin(ReadOnlyAdmin):
    list_display = [
        "tx_hash",
        "user",
        "from_address",
        "credits",
        "block_number",
        "status",
        "created",
    ]
    list_filter = ["status"]
    search_fields = ["tx_hash", "from_address", "user__username"]


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "to_address", "credits", "status", "tx_hash", "created"]
    list_filter = ["status"]
    search_fields = ["tx_hash", "to_address", "user__username"]
    exclude = ["raw_tx"]


# --- record chains: appended and anchored only through ledger.records ------------------------
from ledger.models import ChainAnchor, ChainRecord  # noqa: E402


@admin.register(ChainRecord)
class ChainRecordAdmin(ReadOnlyAdmin):
    list_display = ["chain", "seq", "kind", "hash", "prev_hash", "created_at"]
    list_filter = ["chain", "kind"]
    search_fields = ["hash", "prev_hash"]
    ordering = ["chain", "-seq"]


@admin.register(ChainAnchor)
class ChainAnchorAdmin(ReadOnlyAdmin):
    list_display = [
        "chain",
        "up_to_seq",
        "root",
        "chain_id",
        "tx_hash",
        "block_number",
        "created_at",
    ]
    list_filter = ["chain", "chain_id"]
    search_fields = ["tx_hash", "root"]
    ordering = ["chain", "-up_to_seq"]
