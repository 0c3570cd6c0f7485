-- ANALYZE is the table owner's; the pipeline's application role owns no table
-- (warehouse/roles.py) but refreshes the planner's statistics right after large
-- loads. This function, the owner's, analyzes one table and nothing else; only
-- the application role may call it (warehouse.roles.grant). Also main's (a link).
CREATE FUNCTION public.analyze_table(target regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('ANALYZE %s', target);
END
$$;
REVOKE ALL ON FUNCTION public.analyze_table(regclass) FROM PUBLIC;
