/* client_c CONFIG QUEUE TASK PAYLOAD_JSON
 *
 * Enqueues one job on the store CONFIG names (checked as `sandhost enqueue` checks it), waits
 * for it to end (at most SANDHOST_WAIT_SECONDS, default 300), and prints its result, a JSON
 * value, on stdout. Exit status: 0 when the job completed, 1 when it ended otherwise or is
 * still running, 2 for a usage error or a refused job. */
#include <sandhost/client.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *wait_env = getenv("SANDHOST_WAIT_SECONDS");
    const int64_t wait_ms = (int64_t)(wait_env != NULL ? atoi(wait_env) : 300) * 1000;
    sh_client_t *client;
    sh_job_t *job = NULL;
    int64_t id = 0;
    sh_client_status_t status;
    int exit_status;

    if (argc != 5) {
        fprintf(stderr, "usage: %s CONFIG QUEUE TASK PAYLOAD_JSON\n", argv[0]);
        return 2;
    }
    client = sh_client_open_config(argv[1]);
    if (client == NULL) {
        fprintf(stderr, "%s\n", sh_client_last_error());
        return 2;
    }
    status = sh_client_enqueue(client, argv[2], argv[3], argv[4], NULL, &id);
    if (status != SH_CLIENT_OK) {
        fprintf(stderr, "%s\n", sh_client_last_error());
        sh_client_close(client);
        return 2;
    }
    fprintf(stderr, "job %lld enqueued; waiting\n", (long long)id);
    status = sh_client_wait(client, id, wait_ms, &job);
    if (status == SH_CLIENT_OK && job->state == SH_JOB_COMPLETED) {
        printf("%s\n", job->result != NULL ? job->result : "null");
        exit_status = 0;
    } else if (job != NULL) {
        fprintf(stderr, "job %lld is %s", (long long)job->id, sh_job_state_name(job->state));
        if (job->outcome != NULL) {
            fprintf(stderr, " (last attempt: %s)", job->outcome);
        }
        fprintf(stderr, "%s%s\n", job->error != NULL ? ": " : "", job->error != NULL ? job->error : "");
        exit_status = 1;
    } else {
        fprintf(stderr, "%s\n", sh_client_last_error());
        exit_status = 2;
    }
    sh_job_free(job);
    sh_client_close(client);
    return exit_status;
}
