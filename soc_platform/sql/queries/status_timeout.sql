-- soc-platform status: exact counts give up after this long (the estimate is shown then).
SET statement_timeout = '2s'
