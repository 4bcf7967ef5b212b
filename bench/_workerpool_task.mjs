// The tiny task for workerpool (a worker script registering its methods).
import workerpool from "workerpool";
workerpool.worker({ inc: (x) => x + 1 });
