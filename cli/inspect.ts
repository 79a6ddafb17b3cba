/** ocikit inspect IMAGE: skopeo's inspect output, --raw, --config, --format (Go templates), --referrers. */
import { inspectOutput, ociConfigView, openImage, rawManifestOf, referrersOf, type InspectOutput } from '../lib/image/index.js';
import { OcikitError } from '../lib/errors.js';
import { parseImageName } from '../lib/transports/index.js';
import { GoNil, GoStruct, GoTime, parseTemplate } from '../lib/template/index.js';
import { boolFlag, many, positionals, type Command } from './command.js';
import { REGISTRY_FLAGS, REGISTRY_HELP, commandStore, repositoryName, transportOptions } from './context.js';
import type { SystemContext } from '../lib/transports/types.js';

const USAGE = 'ocikit inspect [options] IMAGE-NAME';

/** The inspect output as the Go struct skopeo's templates see: every field present, typed nils. */
export function templateData(out: InspectOutput): GoStruct {
  return new GoStruct({
    Name: out.Name ?? '',
    Digest: out.Digest,
    RepoTags: out.RepoTags,
    // skopeo's Created is a *time.Time: absent is nil.
    Created: out.Created ? new GoTime(out.Created) : null,
    DockerVersion: out.DockerVersion,
    Labels: out.Labels ?? new GoNil('map'),
    Architecture: out.Architecture,
    Variant: out.Variant ?? '',
    Os: out.Os,
    Layers: out.Layers,
    LayersData: out.LayersData.map((l) => new GoStruct({ MIMEType: l.MIMEType, Digest: l.Digest, Size: l.Size, Annotations: l.Annotations ?? new GoNil('map') })),
    Env: out.Env ?? new GoNil('slice'),
  });
}

/** `{{json .}}` (spaces allowed) is the default output, as containers/common's report.IsJSON decides. */
function isWholeJson(format: string): boolean {
  return /^\s*\{\{-?\s*json\s+\.\s*-?\}\}\s*$/.test(format);
}

export const inspectCommand: Command = {
  name: 'inspect',
  usage: USAGE,
  help: `Options:
      --raw        print the raw manifest (or, with --config, the raw config blob)
      --config     print the image config (in OCI form; raw with --raw)
  -f, --format TEMPLATE
                   print the output through a Go template: {{.Digest}}, {{range .Layers}}…{{end}},
                   {{index .Labels "k"}}, {{if}}, {{len}}, {{printf}}, {{json .Labels}}, …
  -n, --no-tags    do not list the repository's tags (docker:// only)
      --json       print the output on one line
      --referrers  list the image's OCI 1.1 referrers instead (JSON: digest, artifactType, mediaType,
                   size, annotations), from a registry's referrers API or fallback tag, or an OCI
                   layout's index.json (not in skopeo)
      --artifact-type TYPE
                   with --referrers: only referrers of this artifact type (repeatable)

${REGISTRY_HELP}`,
  flags: {
    boolean: ['raw', 'config', 'no-tags', 'referrers', ...REGISTRY_FLAGS.boolean],
    string: ['format', 'artifact-type', ...REGISTRY_FLAGS.string],
    alias: { f: 'format', n: 'no-tags' },
    repeatable: ['artifact-type'],
  },
  async run(args, g, io) {
    const [name] = positionals(args, 1, USAGE);
    const format = typeof args.format === 'string' ? args.format : undefined;
    // Parse the template before any network or disk work: a typo fails at once.
    const template = format !== undefined && !isWholeJson(format) ? parseTemplate(format, 'inspect --format') : undefined;
    const ref = parseImageName(name!);
    const artifactTypes = many(args, 'artifact-type');
    if (artifactTypes.length > 0 && !args.referrers) throw new OcikitError('E_USAGE', '--artifact-type chooses which referrers to list: it needs --referrers');
    if (args.referrers && (args.raw || args.config || format !== undefined)) throw new OcikitError('E_USAGE', '--referrers lists referrers: it does not combine with --raw, --config or --format');
    // Every transport is handed the store; only those that need it open it (an archive from a
    // pipe spools into it, a daemon's export lands in it, a registry source takes manifests it
    // knows from it): inspect of a file layout (dir:, oci:) creates no store directory.
    const store = commandStore(g);
    try {
      const ctx: SystemContext = { ...(await transportOptions(args, g, undefined, io)), store };
      if (args.referrers) {
        io.stdout.write(JSON.stringify(await referrersOf(ref, ctx, artifactTypes), null, 4) + '\n');
        return 0;
      }
      if (args.raw && !args.config) {
        io.stdout.write((await rawManifestOf(ref, ctx)).bytes);
        return 0;
      }
      // The tag list (skopeo's RepoTags) is asked for beside the manifest and config, not after
      // them: one round trip less. The image's own error, if any, is the one reported.
      const wantTags = !args.config && !boolFlag(args, 'no-tags', false) && ref.listTags !== undefined && ref.dockerReference !== undefined && ref.transport.name === 'docker';
      const tags = wantTags ? ref.listTags!(ctx) : undefined;
      tags?.catch(() => undefined);
      const img = await openImage(ref, ctx);
      if (args.config && args.raw) {
        io.stdout.write(img.rawConfig);
        return 0;
      }
      if (args.config) {
        io.stdout.write(JSON.stringify(ociConfigView(img.config), null, g.json ? undefined : 4) + '\n');
        return 0;
      }
      const repoTags: string[] = tags ? await tags : [];
      const nameOut = ref.dockerReference ? repositoryName(ref.dockerReference) : undefined;
      const out = inspectOutput(img, { ...(nameOut ? { name: nameOut } : {}), repoTags });
      if (template) {
        const text = template.execute(templateData(out));
        io.stdout.write(text.endsWith('\n') ? text : text + '\n');
        return 0;
      }
      io.stdout.write(JSON.stringify(out, null, g.json ? undefined : 4) + '\n');
      return 0;
    } finally {
      store.close();
    }
  },
};
