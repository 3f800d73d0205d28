#!/usr/bin/env python3
"""Many prompts written in a tight loop: one task and one create each."""

import os

import harness
from harness import read_text, wait_until

COUNT = 100


class BatchTest(harness.VeofsTestCase):
    sim_duration = 2

    def test_hundred_prompts_in_a_loop(self):
        sim, m = self.sim_and_mount()
        self.sh('cd "%s" && for i in $(seq %d); do echo "p $i" > "t$i.prompt"; done'
                % (m.path("new"), COUNT), timeout=120)
        names = ["t%d" % i for i in range(1, COUNT + 1)]
        entries = set(os.listdir(m.mnt))
        missing = [n for n in names if n not in entries]
        self.assertEqual(missing, [], "task dirs missing right after the loop")
        self.assertEqual(os.listdir(m.path("new")), [])

        def all_submitted():
            pending = []
            for n in names:
                line = self.status(m, n)
                st = harness.state_of(line)
                if st == "failed":
                    raise AssertionError("task %s failed: %s" % (n, line))
                if st == "pending":
                    pending.append(n)
            return not pending
        wait_until(all_submitted, 240, "all %d tasks to be accepted by the API" % COUNT,
                   interval=0.5)
        self.assertEqual(sim.stats()["creates"], COUNT)

        ids = set()
        for i, n in enumerate(names, 1):
            self.assertEqual(read_text(m.path(n, "prompt")).rstrip("\n"), "p %d" % i)
            video_id = self.task_id(m, n)
            self.assertTrue(video_id)
            ids.add(video_id)
        self.assertEqual(len(ids), COUNT, "two tasks share a provider id")
        for n in ("t1", "t50", "t100"):
            self.assertEqual(sim.job(self.task_id(m, n)).get("prompt"), "p %s" % n[1:])


if __name__ == "__main__":
    harness.main()
