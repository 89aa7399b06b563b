/*
 * Sends statements in one libpq pipeline (extended protocol, a single Sync at the end), as
 * drivers that pipeline do, and prints one line per statement: "ok <command tag>" or
 * "error <SQLSTATE> <message>".  Used by test/t/010_pipeline.pl.
 *   pipeline_client CONNINFO STATEMENT...
 */
#include <stdio.h>
#include <stdlib.h>
#include <libpq-fe.h>

static void quiet(void *arg, const char *message) {
  (void) arg;
  (void) message;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s conninfo statement...\n", argv[0]);
    return 2;
  }
  PGconn *conn = PQconnectdb(argv[1]);
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "%s", PQerrorMessage(conn));
    return 1;
  }
  PQsetNoticeProcessor(conn, quiet, NULL);  /* NOTICEs are not what is tested */
  if (!PQenterPipelineMode(conn)) return 1;
  for (int i = 2; i < argc; i++)
    if (!PQsendQueryParams(conn, argv[i], 0, NULL, NULL, NULL, NULL, 0)) return 1;
  if (!PQpipelineSync(conn)) return 1;
  for (int i = 2; i < argc; i++) {
    PGresult *res = PQgetResult(conn);
    if (res == NULL) return 1;
    switch (PQresultStatus(res)) {
      case PGRES_COMMAND_OK:
      case PGRES_TUPLES_OK:
        printf("ok %s\n", PQcmdStatus(res));
        break;
      case PGRES_PIPELINE_ABORTED:
        printf("aborted\n");
        break;
      default:
        printf("error %s %s", PQresultErrorField(res, PG_DIAG_SQLSTATE),
               PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        printf("\n");
        break;
    }
    PQclear(res);
    while ((res = PQgetResult(conn)) != NULL) PQclear(res);  /* the statement's end */
  }
  PGresult *sync = PQgetResult(conn);  /* the Sync */
  PQclear(sync);
  PQfinish(conn);
  return 0;
}
