// Runs the Khronos glTF validator (npm `gltf-validator`, found through NODE_PATH) on one
// .glb file and prints its issue counts and messages as JSON. Used by tests/gltf.rs.
const validator = require('gltf-validator');
const fs = require('fs');
const bytes = new Uint8Array(fs.readFileSync(process.argv[2]));
validator
  .validateBytes(bytes, { maxIssues: 100 })
  .then((report) => console.log(JSON.stringify(report.issues)))
  .catch((e) => {
    console.error(String(e));
    process.exit(2);
  });
