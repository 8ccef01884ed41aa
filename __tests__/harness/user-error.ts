import { expect } from '@jest/globals';
import { UserError } from '../../src/util/errors.js';

/** The UserError a promise rejects with; a TypeError or any other error fails the test. */
export async function userError(promise: Promise<unknown>): Promise<UserError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected a failure');
}
