import { InProcessJobQueue } from "./in-process-queue.js";
import { describeJobQueueContract } from "./queue-contract.js";

describeJobQueueContract("in-process", () => {
  const queue = new InProcessJobQueue();
  return Promise.resolve({ queue, cleanup: () => queue.close() });
});
