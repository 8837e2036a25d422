/* ui_assets — the dashboard's static files, embedded in the binary.
 *
 * The table is generated at build time by scripts/embed_ui.py from every
 * file under ui/dist/ (the front-end's committed build output), so hpod
 * serves /ui/ with no file of its own on disk and nothing from the network.
 * Read-only, static: safe from any thread. */
#ifndef OPENHPO_UI_ASSETS_H
#define OPENHPO_UI_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path; /* relative to ui/dist, '/'-separated: "index.html", "assets/app.js" */
    const char *data; /* the file's bytes (NUL-terminated beyond len) */
    size_t len;
    const char *etag; /* quoted: a prefix of the content's SHA-256 in hex */
} ui_asset;

extern const ui_asset ui_assets[];
extern const size_t ui_assets_count;

#endif
