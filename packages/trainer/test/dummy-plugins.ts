// The two minimal plugins core's tests use (written only against the public API); one copy serves both.
export { mapTask, vectorTask } from '../../core/test/dummy-plugins';
