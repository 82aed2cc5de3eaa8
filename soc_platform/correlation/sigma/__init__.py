"""Sigma for WAF data: a pySigma backend that compiles rules to PostgreSQL over ``waf_events``
and the processing pipeline that maps the Sigma web-server taxonomy onto its columns."""
