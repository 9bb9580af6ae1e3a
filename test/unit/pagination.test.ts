import { describe, expect, it } from 'vitest';
import { pageWindow } from '../../src/http/pagination.js';

// Laravel's UrlWindow with onEachSide = 3: every page up to 13 pages, then slider windows.
describe('pageWindow', () => {
  it('lists every page when there are few', () => {
    expect(pageWindow(1, 1)).toEqual([1]);
    expect(pageWindow(4, 13)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it('slides near the start', () => {
    expect(pageWindow(2, 50)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, '...', 49, 50]);
  });

  it('slides near the end', () => {
    expect(pageWindow(49, 50)).toEqual([1, 2, '...', 41, 42, 43, 44, 45, 46, 47, 48, 49, 50]);
  });

  it('shows both ends around a page in the middle', () => {
    expect(pageWindow(25, 50)).toEqual([1, 2, '...', 22, 23, 24, 25, 26, 27, 28, '...', 49, 50]);
  });
});
