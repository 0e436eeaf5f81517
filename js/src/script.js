// Script-tag build: <script src=".../rooms.js"> defines window.Rooms.
import * as Rooms from './index.js'

globalThis.Rooms = Rooms
