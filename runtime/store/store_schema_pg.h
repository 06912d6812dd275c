/* store_schema_pg: the store's schema on a PostgreSQL connection. */
#ifndef PARLEY_STORE_SCHEMA_PG_H
#define PARLEY_STORE_SCHEMA_PG_H

#include <stddef.h>

#include "sql_db.h"

/* The schema version PostgreSQL starts from (store.c's migrations give
 * SQLite the same). */
enum { PG_SCHEMA_BASELINE = 8 };
/* The newest version store_schema_pg can make. */
int pg_schema_latest(void);

/* Makes db's schema version `want` (the store's), creating it the first
 * time and migrating an older one; refuses a newer one and a version it
 * has no migration to. 0, or
 * -1 with the reason in err. */
int store_schema_pg(sql_db *db, int want, char *err, size_t errlen);

#endif
