-- severity: error
-- description: every finished load reconciles: rows_read = rows_loaded + rows_duplicate + rows_quarantined, rows_read equals the file's own record count where the format has one, and its quarantine rows are all there
with quarantined as (
    select load_id, count(*) as n from core.quarantine group by load_id
),
final as (
    select l.load_id, l.rows_read, l.file_records, l.rows_loaded, l.rows_duplicate, l.rows_quarantined, coalesce(q.n, 0) as quarantine_rows
    from meta.loads l
    left join quarantined q using (load_id)
    where l.status = 'loaded'
)
select * from final
where rows_read is distinct from rows_loaded + rows_duplicate + rows_quarantined
   or rows_quarantined <> quarantine_rows
   or (file_records is not null and file_records <> rows_read)
