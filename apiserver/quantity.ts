// Kubernetes quantities: the parser lives in lib/ so the Operation engine compares sizes as the API does.
export { parseQuantity } from '../lib/quantity.ts';
