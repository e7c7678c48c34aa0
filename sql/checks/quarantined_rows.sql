-- severity: warn
-- description: rows in quarantine, by source and reason code
select source, split_part(reason, ':', 1) as reason_code, count(*) as n from core.quarantine group by all
