-- _offrows (session temp table): one row per offence row of the load being normalized (newest version of
-- each incident only), classified through the offence crosswalk. An offence code missing from the
-- crosswalk is 'Unmapped', a row without a code 'Unknown' (both 'Unmapped' when the source has no offence
-- crosswalk), ranked 999 (least serious). _seq is the delivered sequence number, else the file order within
-- the incident. The incident grain picks each incident's most serious row from here; core.offenses keeps
-- them all.
-- Variables: sara_has_offenses (boolean: the source has an offence crosswalk).
create or replace temp table _offrows as
with offense_rows as (
    select * from _ok2
),
offenses as (
    select * from _xw_offenses
),
classified as (
    select
        o.*,
        coalesce(x.offense, o.offense, o.offense_code) as offense_n,
        case
            when not getvariable('sara_has_offenses') then 'Unmapped'
            when o.offense_code is null then 'Unknown'
            else coalesce(x.offense_category, 'Unmapped')
        end as offense_category,
        x.crime_against,
        coalesce(try_cast(x.severity_rank as integer), 999) as severity_rank,
        coalesce(try_cast(o.offense_seq as integer),
                 cast(row_number() over (partition by o.record_id order by o.source_row) as integer)) as _seq
    from offense_rows o
    left join offenses x on x._key = upper(o.offense_code)
),
final as (
    select * from classified
)
select * from final;
