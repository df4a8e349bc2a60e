/** The OpenAI-compatible server (see server.ts for the routes). */
export { ChimeraServer, createChimeraServer, type ServerOptions } from "./server.js";
export { HttpError } from "./http.js";
export { parseChat, parseCompletion, type ServerLimits } from "./validate.js";
