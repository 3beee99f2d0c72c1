import type { SSTConfig } from "sst";
import { Review } from "./stacks/Review";
import { Storage } from "./stacks/Storage";
import { Training } from "./stacks/Training";

export default {
  config() {
    return { name: "secondlook", region: "us-east-1" };
  },
  stacks(app) {
    app.setDefaultFunctionProps({
      runtime: "nodejs22.x",
      architecture: "arm_64",
      memorySize: "512 MB",
      timeout: "30 seconds",
      nodejs: { format: "esm" },
    });
    app.stack(Storage).stack(Training).stack(Review);
  },
} satisfies SSTConfig;
