from ledger.views import balance, chain

app_name = "ledger"
urlpatterns = [*balance.urlpatterns, *chain.urlpatterns]
