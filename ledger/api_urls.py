from ledger.api import accounts, chain

urlpatterns = [*accounts.urlpatterns, *chain.urlpatterns]
