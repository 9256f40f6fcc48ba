// The engine templates the hub can place: the loader lives in lib/ so the hub controllers read the same catalog.
export { engineTemplates, type EngineTemplateInfo } from '../lib/templates.ts';
