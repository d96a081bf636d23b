"""Servers and writers the tests start in place of the internet (figshare, archives)."""
