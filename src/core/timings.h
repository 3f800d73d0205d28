/* How long the provider really took, per model, learned from the tasks
 * this state dir has seen: STATE_DIR/timings.json, replaced atomically
 * after each new sample. The poll schedule asks it when a task's video is
 * likely ready. Thread-safe; its lock is a leaf (nothing is taken under
 * it, and it is never taken under a task's mu). */
#ifndef VEOFS_TIMINGS_H
#define VEOFS_TIMINGS_H

#define TIMINGS_FILE "timings.json"
/* Samples kept per model, the newest replacing the oldest. */
#define TIMINGS_KEEP 24

struct timings;

/* Loads STATE_DIR/timings.json when there is one (a damaged file is
 * ignored: it only ever holds hints). NULL state_dir: in memory only. */
struct timings *timings_open(const char *state_dir);
void timings_close(struct timings *tm);
/* One more finished task of model (NULL: ""), seconds from the create to
 * the provider's completion; saved at once. */
void timings_add(struct timings *tm, const char *model, double seconds);
/* Up to max of model's samples, oldest first; returns how many. */
int timings_get(struct timings *tm, const char *model, double *out, int max);

#endif
