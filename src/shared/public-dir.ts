// Where the package's browser files are (the tracker and the admin page): src/shared and
// dist/shared are both two levels below the package root, next to public/.
import { fileURLToPath } from 'node:url'

export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url))
