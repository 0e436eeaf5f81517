// Types of the React bindings: import { useRoom, useRoomState } from 'rooms/react'.
import type { Immutable, Room, RoomOptions } from './index'

export interface UseRoomOptions<S> extends RoomOptions {
  /** Create the room with this state instead of joining it. */
  initialState?: S
}

/** The Room once ready, else null; leaves it on unmount. */
export declare function useRoom<S = any>(participantId: string, roomId: string, options?: UseRoomOptions<S>): Room<S> | null

/** The room's state (or a part picked by selector); re-renders on change. */
export declare function useRoomState<S = any>(room: Room<S> | null): Immutable<S> | undefined
export declare function useRoomState<S, T>(room: Room<S> | null, selector: (state: Immutable<S>) => T): T | undefined
