"""The business core: users, countries, catalog, ledger, orders and the ports the outside must fill."""
