// Validates rendered Kubernetes documents offline, as the API server of the
// version the manifests target would take them (manifests_test.py runs it).
//
//   node validate.mjs < docs.json    # [{"name": "dev: Deployment/x", "doc": {…}}, …]
//
// prints {"target": …, "problems": ["dev: Deployment/x: …", …]} and exits 0;
// a document can fail three ways:
//   * its apiVersion/kind is not one the target serves (kubernetes-models
//     keeps the schemas of removed APIs too, so the table below decides);
//   * the JSON schema of its kind (kubernetes-models: the Kubernetes 1.33.0
//     OpenAPI schema; @kubernetes-models/cert-manager: cert-manager 1.11.2's
//     CRDs), checked with ajv: types, enums, required fields;
//   * an unknown field: the schema allows them, but the API server drops them
//     or, with kubectl's default strict field validation, refuses them.
//     TypeScript's excess-property check against the same packages' types
//     finds them.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const TARGET = "Kubernetes 1.33";
const HERE = dirname(fileURLToPath(import.meta.url));

// What the manifests may use: kinds of group versions that Kubernetes 1.33
// serves by default (GA), and cert-manager's. Add a kind only after checking.
const SERVED = {
  v1: ["ConfigMap", "Secret", "Service", "ServiceAccount", "PersistentVolumeClaim"],
  "apps/v1": ["Deployment", "StatefulSet", "DaemonSet"],
  "batch/v1": ["Job", "CronJob"],
  "autoscaling/v2": ["HorizontalPodAutoscaler"],
  "policy/v1": ["PodDisruptionBudget"],
  "networking.k8s.io/v1": ["NetworkPolicy", "Ingress"],
  "cert-manager.io/v1": ["Issuer", "Certificate"],
};

function modulePath(apiVersion, kind) {
  if (apiVersion.startsWith("cert-manager.io/")) {
    return `@kubernetes-models/cert-manager/${apiVersion}/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

function readStdin() {
  return new Promise((resolve, reject) => {
    let text = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk) => (text += chunk));
    process.stdin.on("end", () => resolve(text));
    process.stdin.on("error", reject);
  });
}

async function schemaProblems(name, doc) {
  const { apiVersion, kind } = doc;
  if (!(SERVED[apiVersion] || []).includes(kind)) {
    return [`${name}: ${apiVersion} ${kind} is not in the table of what ${TARGET} serves`];
  }
  const model = await import(modulePath(apiVersion, kind));
  try {
    new model[kind](doc).validate();
    return [];
  } catch (error) {
    return [`${name}: ${error.message}`];
  }
}

// One TypeScript file that assigns each document to its kind's type; every
// diagnostic is an unknown field or a wrong type, mapped back by line.
function unknownFieldProblems(entries) {
  const dir = mkdtempSync(join(tmpdir(), "polku-k8s-validate-"));
  try {
    symlinkSync(join(HERE, "node_modules"), join(dir, "node_modules"));
    const lines = [];
    const owner = [];  // line → document name
    entries.forEach(({ name, doc }, i) => {
      if (!(SERVED[doc.apiVersion] || []).includes(doc.kind)) return;
      const from = JSON.stringify(modulePath(doc.apiVersion, doc.kind));
      const body = JSON.stringify(doc, null, 1).split("\n");
      lines.push(`import type { I${doc.kind} as T${i} } from ${from};`);
      owner.push(name);
      lines.push(`export const doc${i}: T${i} = ${body[0]}`);
      owner.push(name);
      for (const line of body.slice(1)) {
        lines.push(line);
        owner.push(name);
      }
      lines.push(";");
      owner.push(name);
    });
    const file = join(dir, "documents.ts");
    writeFileSync(file, lines.join("\n") + "\n");
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2020,
      types: [],
    });
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
      if (!d.file || d.file.fileName !== file) return `typescript: ${message}`;
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      // The last line of the chain names the field and its type.
      return `${owner[line]}: ${message.split("\n").pop().trim()}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const entries = JSON.parse(await readStdin());
const problems = [];
for (const { name, doc } of entries) problems.push(...(await schemaProblems(name, doc)));
problems.push(...unknownFieldProblems(entries));
process.stdout.write(JSON.stringify({ target: TARGET, problems }) + "\n");
