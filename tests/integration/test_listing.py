#!/usr/bin/env python3
"""A provider that lists videos (GET /videos) brings the news of many tasks
in one request: few polls of single tasks. One without the listing is
polled task by task, and says so in the log once."""

import harness
from harness import wait_until

COUNT = 8


class ListingTest(harness.VeofsTestCase):
    sim_duration = 6
    mount_options = {"interval": "1", "max_interval": "4", "timeout": "10"}

    def run_batch(self, dialect):
        sim, m = self.sim_and_mount(sim_kw={"dialect": dialect, "progress": "coarse"})
        names = ["l%d" % i for i in range(COUNT)]
        for n in names:
            with open(m.path("new", n + ".prompt"), "w") as f:
                f.write("a listed video %s\n" % n)

        def all_completed():
            return all(harness.state_of(self.status(m, n)) == "completed" for n in names)
        wait_until(all_completed, 120, "every task completed", interval=0.2)
        return sim, m, sim.stats()

    def test_a_listing_provider_gets_few_polls_of_single_tasks(self):
        sim, m, st = self.run_batch("openai")
        self.assertGreaterEqual(st["lists"], 1, st)
        # Each task would be polled several times on its own (6 s jobs,
        # polls 1 to 4 s apart); the listing leaves at most one each.
        self.assertLessEqual(st["polls"], COUNT, st)
        self.assertLess(st["polls"] + st["lists"], 2 * COUNT, st)
        self.assertIn("the provider lists videos", m.log_text())

    def test_a_provider_without_the_listing_is_polled_per_task(self):
        sim, m, st = self.run_batch("newapi")
        self.assertGreaterEqual(st["polls"], COUNT, st)
        self.assertLessEqual(st["lists"], 1, "asked once, remembered for the mount")
        self.assertEqual(m.log_text().count("the provider does not list videos"), 1)


if __name__ == "__main__":
    harness.main()
